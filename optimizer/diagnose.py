"""Explain an infeasible dispatch problem by solving it with penalised slacks.

The elastic model (:class:`~optimizer.model.DispatchModel` with ``elastic=True``) relaxes every
constraint family that can conflict (import/export caps, transformer ratings, heat demand, EV and
deferrable energy, end-of-horizon storage rules, green-power ratio, network limits) with a non-negative
slack priced at ``slack_penalty_cny_per_kwh``. Minimising the slacks finds the smallest set of
violations; each non-zero slack becomes a :class:`Conflict` with a message that names the constraint,
the time and the size of the shortfall.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from optimizer.inputs import BinaryMode, DispatchInputs, SolverOptions
from optimizer.model import DispatchModel
from optimizer.model.data import slot_depot, slot_index
from optimizer.results import Schedule, extract_schedule, milp_reasons_from_plan
from optimizer.solver import SolveInfo, make_solver
from optimizer.violations import Conflict, hhmm, sort_conflicts, when

SLACK_TOL = 1e-3


@dataclass
class Diagnosis:
    conflicts: list[Conflict]
    schedule: Schedule | None
    """Plan of the elastic model (violations included); not for dispatch."""
    solve: SolveInfo

    @property
    def message(self) -> str:
        if not self.conflicts:
            return "no conflicting constraint found (numerical trouble in the solver?)"
        return "; ".join(c.message for c in self.conflicts)


def _per_subject(slack, tol: float) -> dict[str, list[tuple[int, float]]]:
    """``{subject: [(step, value), ...]}`` of the non-zero entries of a slack indexed by (subject, t)."""
    out: dict[str, list[tuple[int, float]]] = {}
    for (subject, t), var in slack.var.items():
        value = var.value or 0.0
        if value > tol:
            out.setdefault(subject, []).append((t, value))
    return out


def _conflicts(dm: DispatchModel, schedule: Schedule) -> list[Conflict]:  # noqa: C901 - one branch per family
    inp = dm.inputs
    d = dm.data.values
    out: list[Conflict] = []
    for slack in dm.m._slacks:
        fam = slack.family
        if fam in ("import_limit", "export_limit"):
            hits = [(t, v.value or 0.0) for t, v in slack.var.items() if (v.value or 0.0) > SLACK_TOL]
            if not hits:
                continue
            steps = [t for t, _ in hits]
            worst_t, worst = max(hits, key=lambda x: x[1])
            if fam == "import_limit":
                lim = inp.grid.import_limit_kw
                msg = (f"import limit (declared demand) {lim:g} kW is below the load that must be served at "
                       f"{when(inp.index, steps)}: up to {lim + worst:.0f} kW needed at {hhmm(inp.index[worst_t])} "
                       f"({worst:.0f} kW more)")
            else:
                lim = inp.grid.export_limit_kw
                msg = (f"export limit {lim:g} kW is below the must-take PV surplus at {when(inp.index, steps)}: "
                       f"up to {worst:.0f} kW cannot be absorbed (allow curtailment or export)")
            out.append(Conflict(fam, "grid", worst, "kW", msg, steps))
        elif fam in ("transformer_down", "transformer_up", "heat"):
            limits = {x.id: x.limit_kw for x in inp.transformers}
            for subject, hits in _per_subject(slack, SLACK_TOL).items():
                steps = [t for t, _ in hits]
                worst = max(v for _, v in hits)
                if fam == "heat":
                    energy = sum(v for _, v in hits) * inp.step_h
                    msg = (f"heat pump '{subject}' cannot meet the heat demand at {when(inp.index, steps)}: "
                           f"{energy:.0f} kWh_th short (heat-pump power and tank too small)")
                    out.append(Conflict(fam, subject, energy, "kWh_th", msg, steps))
                    continue
                what = "consumption" if fam == "transformer_down" else "reverse flow from generation"
                msg = (f"transformer '{subject}' ({limits[subject]:g} kW at the assumed power factor) is overloaded by "
                       f"the tenant's {what} at {when(inp.index, steps)}: up to {worst:.0f} kW over")
                out.append(Conflict(fam, subject, worst, "kW", msg, steps))
        elif fam == "network":
            for i, var in slack.var.items():
                value = var.value or 0.0
                if value > SLACK_TOL:
                    name, step = slack.labels[i]
                    msg = f"network limit '{name}' at {hhmm(inp.index[step])} cannot be met: exceeded by {value:.4g}"
                    out.append(Conflict(fam, name, value, "", msg, [step]))
        else:
            out.extend(_energy_conflicts(dm, slack, d, schedule))
    return out


def _energy_conflicts(dm: DispatchModel, slack, d: dict, schedule: Schedule) -> list[Conflict]:
    inp = dm.inputs
    out = []
    fam = slack.family
    items = [(None, slack.var)] if not slack.var.is_indexed() else list(slack.var.items())
    for key, var in items:
        value = var.value or 0.0
        if value <= SLACK_TOL:
            continue
        if fam == "battery_end":
            b = next(x for x in inp.batteries if x.id == key)
            target = d["bat_end"][key] / b.e_capacity_kwh * 100
            msg = f"battery '{key}' cannot reach its end-of-horizon SoC of {target:.1f} %: {value:.0f} kWh short"
        elif fam == "tank_end":
            msg = (f"heat pump '{key}' cannot refill its tank to {d['hp_end'][key]:.0f} kWh_th by the end of the "
                   f"horizon: {value:.0f} kWh_th short")
        elif fam == "ev":
            depot = next(x for x in inp.ev_depots if x.id == slot_depot(key))
            session = depot.sessions[slot_index(key)]
            p_max = min(session.p_max_kw or depot.p_max_kw, depot.p_max_kw)
            deadline = min(session.departure, inp.end)
            by = "its deadline" if session.departure <= inp.end else "the end of the horizon"
            msg = (f"EV depot '{depot.id}' session '{session.id}' cannot receive {d['ev_owed'][key]:.0f} kWh by "
                   f"{by} {hhmm(deadline)} at the charger limit {p_max:g} kW: short by {value:.0f} kWh")
            key = f"{depot.id}:{session.id}"
        elif fam == "deferrable":
            x = next(y for y in inp.deferrable if y.id == key)
            msg = (f"deferrable load '{key}' cannot consume {d['def_owed'][key]:.0f} kWh in its window "
                   f"{hhmm(x.window_start)}–{hhmm(x.window_end)} at {x.p_max_kw:g} kW: short by {value:.0f} kWh")
        elif fam == "green":
            from optimizer.kpis import compute_kpis

            achieved = compute_kpis(schedule, inp)["green_power_ratio"] or 0.0
            msg = (f"minimum green-power ratio {100 * inp.green.min_ratio:.1f} % is not reachable: at most "
                   f"{100 * achieved:.1f} % with this PV forecast and these limits ({value:.0f} kWh of green energy short)")
            key = "green"
        else:
            msg = f"{fam} '{key}' violated by {value:.4g}"
        out.append(Conflict(fam, str(key), float(value), slack.unit, msg))
    return out


def diagnose(inputs: DispatchInputs, options: SolverOptions | None = None) -> Diagnosis:
    """Solve the elastic version of ``inputs`` and return the conflicts, largest first within a family."""
    options = options or SolverOptions()
    dm = DispatchModel(inputs, elastic=True, switches=False, slack_penalty=options.slack_penalty_cny_per_kwh)
    solver = make_solver(options, persistent=False)
    info = solver.solve(dm.m)
    if not info.status.has_solution:
        return Diagnosis([], None, info)
    schedule = extract_schedule(dm)
    # the relaxed plan is dispatched: a battery that charges and discharges at once (burning a surplus the
    # export limit cannot take) or a heat pump below its minimum load is re-solved with binaries
    reasons = [r for r in milp_reasons_from_plan(schedule, inputs, options.simultaneous_tol_kw)
               if not r.startswith("the PCC")]
    if reasons and options.binaries != BinaryMode.NEVER:
        exact = DispatchModel(inputs, elastic=True, switches=True, slack_penalty=options.slack_penalty_cny_per_kwh)
        exact.set_integer(True)
        exact_info = solver.solve(exact.m, mip=True)
        if exact_info.status.has_solution:
            dm, info, schedule = exact, exact_info, extract_schedule(exact)
    conflicts = _conflicts(dm, schedule)
    return Diagnosis(sort_conflicts(conflicts), schedule, info)


def slack_total(dm: DispatchModel) -> float:
    """Sum of all slack values of a solved elastic model (0 when the original problem is feasible)."""
    return float(sum(np.sum([v.value or 0.0 for v in s.var.values()]) for s in dm.m._slacks))
