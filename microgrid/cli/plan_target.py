"""``microgrid plan-target SITE --target 45 --year 2030``: cheapest additions to reach an annual green ratio.

Sizes added PV per roof, storage, green-power trading and (where accepted) certificates over representative
days (or the full year) through the dispatch formulation with capacity variables (docs/study.md). Writes
``sizing.json`` and, with ``--curve``, ``curve.csv`` (cost against targets 20-80 %). Exit codes: 0 written;
2 bad site file or argument; 3 the target cannot be reached (or the solve failed).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from microgrid.cli import tr
from microgrid.cli import validators as valid
from microgrid.cli.optimize import _step
from microgrid.cli.study import _year
from microgrid.errors import UserError

_per_month = valid.integer(1, 31, "a number of days per month")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "plan-target", description=tr("desc.plan-target"))
    parser.add_argument("site", metavar="SITE", help=tr("help.site"))
    parser.add_argument("--target", type=valid.bounded(0, 100, "percentage"), required=True, metavar="PCT",
                        help=tr("help.plan-target.target"))
    parser.add_argument("--year", type=_year, required=True, help=tr("help.plan-target.year"))
    parser.add_argument("--resolution", type=_step, default=60, metavar="MIN", help=tr("help.plan-target.resolution"))
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--days-per-month", type=_per_month, default=2, metavar="N",
                       help=tr("help.plan-target.days-per-month"))
    group.add_argument("--full-year", action="store_true", help=tr("help.plan-target.full-year"))
    parser.add_argument("--compare-full-year", action="store_true",
                        help=tr("help.plan-target.compare-full-year"))
    parser.add_argument("--curve", action="store_true", help=tr("help.plan-target.curve"))
    parser.add_argument("--costs", metavar="YAML", help=tr("help.plan-target.costs"))
    parser.add_argument("--certificates", action=argparse.BooleanOptionalAction, default=None,
                        help=tr("help.plan-target.certificates"))
    parser.add_argument("--verify", action="store_true",
                        help=tr("help.plan-target.verify"))
    parser.add_argument("--weather", metavar="CSV", help=tr("help.plan-target.weather"))
    parser.add_argument("--out", type=Path, help=tr("help.plan-target.out"))
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from microgrid.site import load_site
    from microgrid.study.target import Costs, build_target_plan, curve, full_year_error, verify_design

    site = load_site(args.site)
    costs = Costs.load(args.costs)
    per_month = None if args.full_year else args.days_per_month
    plan = build_target_plan(site, args.year, step_min=args.resolution, per_month=per_month, costs=costs,
                             certificates=args.certificates, weather_csv=args.weather)
    result = plan.model.solve(args.target / 100)
    out = args.out or Path("studies") / site.id / f"target-{args.target:g}-{args.year}"
    report = {"site": site.id, "year": args.year, "resolution_min": args.resolution,
              "days_in_model": plan.n_days, "representative_days": None if plan.rep is None else
              [{"day": d.isoformat(), "weight": w} for d, w in zip(plan.rep.days, plan.rep.weights, strict=True)],
              "costs_illustrative": costs.illustrative, "certificates_allowed": plan.certificates,
              "build_s": round(plan.model.build_time_s, 3), "result": result.to_dict()}
    if not result.ok:
        _write(out, report)
        raise UserError.of("uerr.target_unreachable", target=f"{args.target:g}", status=str(result.status), exit_code=3)
    if args.compare_full_year and per_month is not None:
        report["full_year"] = full_year_error(plan, args.target / 100)
    if args.curve:
        report["curve"] = [r.to_dict() for r in curve(plan)]
    if args.verify:
        report["verification"] = verify_design(plan, result)
    paths = _write(out, report)
    _print(report)
    print("Wrote " + ", ".join(str(p) for p in paths))
    return 0


def _write(out: Path, report: dict) -> list[Path]:
    import pandas as pd

    try:
        out.mkdir(parents=True, exist_ok=True)
        paths = [out / "sizing.json"]
        paths[0].write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
        if report.get("curve"):
            rows = [{"target_pct": r["target_pct"], "status": r["status"], "annual_cost_cny": r["annual_cost_cny"],
                     "pv_kwp": sum(r["pv_kwp"].values()), "storage_kw": sum(r["storage_kw"].values()),
                     "storage_kwh": sum(r["storage_kwh"].values()), "heat_pump_kw": sum(r["heat_pump_kw"].values()),
                     **{f"{k}_mwh": v for k, v in r["purchases_mwh"].items()},
                     **{f"cost_{k}_cny": v for k, v in r["cost_breakdown_cny"].items()}} for r in report["curve"]]
            paths.append(out / "curve.csv")
            pd.DataFrame(rows).to_csv(paths[-1], index=False, float_format="%.3f")
    except OSError as exc:
        raise UserError.of("uerr.out_unwritable", path=str(out), reason=str(exc.strerror or exc)) from None
    return paths


def _print(report: dict) -> None:
    r = report["result"]
    print(f"{report['site']} {report['year']}: target {r['target_pct']:g} % -> annualised cost "
          f"{r['annual_cost_cny']:,.0f} CNY/a ({report['days_in_model']} days in the model"
          + (", costs ILLUSTRATIVE" if report["costs_illustrative"] else "") + ")")
    print("  added PV kWp: " + ", ".join(f"{k} {v:,.0f}" for k, v in r["pv_kwp"].items()) if r["pv_kwp"] else "  no roofs")
    for k in r["storage_kw"]:
        print(f"  storage {k}: {r['storage_kw'][k]:,.0f} kW / {r['storage_kwh'][k]:,.0f} kWh")
    for k, v in r["heat_pump_kw"].items():
        print(f"  heat pump {k}: {v:,.0f} kW_e (electrifying a fuel-fired heat demand)")
    print("  green purchases MWh/a: " + ", ".join(f"{k} {v:,.0f}" for k, v in r["purchases_mwh"].items()))
    print("  cost split CNY/a: " + ", ".join(f"{k} {v:,.0f}" for k, v in r["cost_breakdown_cny"].items()))
    if "full_year" in report:
        f = report["full_year"]
        print(f"  full year: {f['annual_cost_cny']:,.0f} CNY/a; representative-day error {f['error_pct']:+.2f} %")
    if "verification" in report:
        v = report["verification"]
        print(f"  verified by an annual study of the sized site: green ratio {v['green_ratio_pct']:.2f} %, "
              f"operating cost {v['cost_total_cny']:,.0f} CNY")
    for c in report.get("curve", []):
        cost = "infeasible" if c["annual_cost_cny"] is None else f"{c['annual_cost_cny']:,.0f}"
        print(f"  curve {c['target_pct']:5.1f} %: {cost}")

