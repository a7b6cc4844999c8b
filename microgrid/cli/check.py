"""``microgrid check SITE --schedule schedule.csv``: AC power-flow check of a schedule.

Prints a summary and a violation table (time, element, value, limit) and writes ``network.csv`` (one row
per interval: convergence, losses, PCC power, every bus voltage and every line/transformer loading).
Exit codes: 0 no violation; 1 limits violated (the check itself worked); 2 bad site file, schedule or
argument; 3 some interval's power flow did not converge.

Also home of :func:`network_pass`, the network step of ``microgrid optimize`` (AC check of the plan and,
when it violates, the network-constrained re-planning loop).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, replace
from pathlib import Path

from microgrid.cli import tr
from microgrid.cli import validators as valid
from microgrid.errors import UserError
from microgrid.i18n import current_lang, t
from microgrid.network import CheckLimits, NetOptions, ParkNetwork, check_schedule
from microgrid.site import Site, load_site


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "check",
        description=tr("desc.check"),
    )
    parser.add_argument("site", metavar="SITE", help=tr("help.site"))
    parser.add_argument("--schedule", required=True, metavar="CSV", help=tr("help.check.schedule"))
    parser.add_argument("--out", type=Path, metavar="CSV",
                        help=tr("help.check.out"))
    parser.add_argument("--load-pf", type=valid.bounded(0, 1, "power factor", lo_open=True), default=NetOptions.load_cos_phi, metavar="COS_PHI",
                        help=tr("help.check.load-pf"))
    parser.add_argument("--max-loading", type=valid.bounded(1, 200, "loading limit in percent"), metavar="PCT",
                        help=tr("help.check.max-loading"))
    parser.add_argument("--max-rows", type=int, default=50, help=tr("help.check.max-rows"))
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    site = load_site(args.site)
    network = ParkNetwork.from_site(site, NetOptions(load_cos_phi=args.load_pf))
    limits = CheckLimits(max_loading_pct=args.max_loading)
    check = check_schedule(network, args.schedule, limits)
    out = args.out or Path(args.schedule).resolve().parent / "network.csv"
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        check.write_csv(out)
    except OSError as exc:
        raise UserError.of("uerr.out_unwritable", path=str(out), reason=str(exc.strerror or exc)) from None
    for line in check_lines(site, check):
        print(line)
    if not check.ok:
        print(check.violation_table(max(args.max_rows, 0), current_lang()))
    print(t("cli.wrote", current_lang(), paths=str(out)))
    if check.failures:
        return 3
    return 0 if check.ok else 1


def check_lines(site: Site, check) -> list[str]:
    """Summary of an AC check in a few lines (in the command line's language)."""
    s, lang = check.summary(), current_lang()
    if s["violations"]:
        verdict = t("check.violations", lang, n=s["violations"], elements=", ".join(s["violated_elements"]))
    else:
        verdict = t("check.clean_converged" if s["failed"] else "check.clean", lang)
    return [
        t("check.head", lang, site=site.id, n=s["intervals"], start=check.index[0].isoformat(),
          converged=s["converged"], failed=s["failed"], seconds=f"{s['elapsed_s']:.3f}"),
        t("check.figures", lang, line=str(s["max_line_loading_pct"]), trafo=str(s["max_trafo_loading_pct"]),
          vmin=str(s["min_vm_pu"]), vmax=str(s["max_vm_pu"]), losses=str(s["losses_kwh"])),
        verdict,
    ]


@dataclass
class NetworkPass:
    """What :func:`network_pass` did for ``microgrid optimize``."""

    plan: object
    """The (possibly re-planned) ``microgrid.planning.Plan``."""
    network_plan: object
    """The :class:`microgrid.network.constrained.NetworkPlan`."""

    @property
    def ok(self) -> bool:
        return self.network_plan.ok

    def lines(self) -> list[str]:
        """What the network step did, for ``optimize``'s summary (in the command line's language; the status is
        a code and its message the network loop's own text)."""
        np_, lang = self.network_plan, current_lang()
        s = np_.summary()
        first = s["history"][0]
        if np_.iterations == 0 and np_.ok:
            return [t("check.net_clean", lang, line=str(first["max_line_loading_pct"]),
                      trafo=str(first["max_trafo_loading_pct"]))]
        out = [t("check.net_violations", lang, n=first["violations"],
                 elements=", ".join(first["violated_elements"]) or t("check.none", lang))]
        if np_.iterations:
            out.append(t("check.net_replan", lang, n=np_.iterations, rows=s["network_rows"],
                         before=f"{s['cost_unconstrained_cny']:,.2f}", after=f"{s['cost_final_cny']:,.2f}",
                         remaining=s["violations_remaining"], seconds=f"{np_.elapsed_s:.2f}"))
        out.append(t("check.net_status", lang, status=np_.status, message=np_.message))
        return out

    def write(self, out_dir: Path) -> list[Path]:
        """Write ``network.csv`` (AC check of the final plan) and ``network.json`` (loop summary)."""
        out_dir.mkdir(parents=True, exist_ok=True)
        csv_path, json_path = out_dir / "network.csv", out_dir / "network.json"
        self.network_plan.check.write_csv(csv_path)
        text = json.dumps(self.network_plan.summary(), indent=2, ensure_ascii=False, default=str)
        json_path.write_text(text + "\n", encoding="utf-8")
        return [csv_path, json_path]


def network_pass(site: Site, plan, solver_options=None, max_iterations: int = 5) -> NetworkPass:
    """AC check of ``plan`` (a ``microgrid.planning.Plan``) and, when needed, the network-constrained loop."""
    from microgrid.network.constrained import plan_with_network  # imports the optimizer

    network = ParkNetwork.from_site(site)
    result = plan_with_network(plan.inputs, network, solver_options=solver_options, first=plan.result,
                               max_iterations=max_iterations)
    new_plan = replace(plan, inputs=replace(plan.inputs, network_limits=result.limits), result=result.result)
    return NetworkPass(new_plan, result)
