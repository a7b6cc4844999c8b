r"""Capacity sizing for an annual green-power target (the target planner's model), over weighted days.

A library function with typed inputs like :func:`optimizer.solve_dispatch`: it never reads a site file.
Each day is an ordinary :class:`~optimizer.model.DispatchModel` (the day-ahead formulation, unchanged)
attached as a sub-block of one parent model; :mod:`optimizer.model.capacity` adds the capacity variables,
the month peaks, the purchases and the annual ratio. The objective is

.. math::
    \min \sum_d w_d\, C_d + c^{dem} \sum_\mu P^{peak}_\mu + \sum_c a^{pv}_c K_c
    + \sum_s (a^{P}_s P_s + a^{E}_s E_s) + \sum_g \pi_g G_g

plus :math:`\sum_h a^{H}_h H_h` for heat pumps electrifying a fuel-fired heat demand, with :math:`C_d` the
day model's own cost (TOU energy, throughput, curtailment penalties, fuel for unelectrified heat), :math:`a` the
annualised capital cost plus O&M per unit and :math:`\pi_g` the price of green purchases per kWh. The ratio
target is a mutable Param: :meth:`SizingModel.solve` re-solves the same model for each target (the
cost–green-ratio curve), pushing only the changed coefficients to HiGHS.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import pyomo.environ as pyo
from pyomo.common.gc_manager import PauseGC

from optimizer.direct import DirectHighs
from optimizer.inputs import DispatchInputs, SolverOptions
from optimizer.model import DispatchModel
from optimizer.model.capacity import (
    define_annual_green_ratio,
    define_green_purchases,
    define_heat_pump_capacity,
    define_month_peaks,
    define_pv_capacity,
    define_storage_capacity,
)
from optimizer.results import Schedule, extract_schedule
from optimizer.solver import SolveInfo

IPM_ABOVE_DAYS = 60
"""Models with more days than this are solved by HiGHS' interior-point method (with crossover)."""


@dataclass(frozen=True)
class PVCandidate:
    """Added PV: a PV plant of every day's inputs whose available power is for ``max_kwp``."""

    id: str
    max_kwp: float
    cost_cny_per_kwp_year: float
    """Annualised capital cost plus O&M, CNY per kWp and year."""


@dataclass(frozen=True)
class StorageCandidate:
    """Added storage: a battery of every day's inputs rated at the maxima (energy counted above its floor)."""

    id: str
    max_power_kw: float
    max_energy_kwh: float
    cost_cny_per_kw_year: float
    cost_cny_per_kwh_year: float
    usable_fraction: float = 0.85
    """Usable share of the nameplate energy (SoC window)."""


@dataclass(frozen=True)
class HeatPumpCandidate:
    """Electrification: a curtailable load of every day's inputs (see
    :func:`optimizer.model.capacity.define_heat_pump_capacity`) whose shed energy is served by fuel."""

    id: str
    max_kw: float
    cost_cny_per_kw_year: float


@dataclass(frozen=True)
class GreenPurchase:
    """Green energy bought per year: ``trading`` (bundled with electricity) or ``certificates`` (unbundled)."""

    id: str
    price_cny_per_mwh: float
    """Premium over the electricity price (trading) or the certificate price (1 GEC = 1 MWh), CNY/MWh."""
    max_mwh: float | None = None
    bundled: bool = False


@dataclass
class SizingProblem:
    """Days (with candidate assets at their maxima), their weights and months, candidates and prices."""

    days: list[DispatchInputs]
    weights: list[float]
    """Days of the year each day stands for (sum = days in the year)."""
    months: list[int]
    demand_charge_cny_per_kw_month: float
    onsite_certificate_share: float = 1.0
    fixed_green_kwh: float = 0.0
    """Green energy already contracted for the year (kWh), counted towards the ratio at no extra cost."""
    pv: list[PVCandidate] = field(default_factory=list)
    storage: list[StorageCandidate] = field(default_factory=list)
    heat_pumps: list[HeatPumpCandidate] = field(default_factory=list)
    purchases: list[GreenPurchase] = field(default_factory=list)


@dataclass
class SizingResult:
    """One solve of the sizing model."""

    target: float
    status: str
    ok: bool
    annual_cost_cny: float | None
    cost_breakdown_cny: dict[str, float]
    pv_kwp: dict[str, float]
    storage_kw: dict[str, float]
    storage_kwh: dict[str, float]
    heat_pump_kw: dict[str, float]
    purchases_mwh: dict[str, float]
    green_ratio: float | None
    """Annual ratio by the model's definition (weighted days)."""
    solve: SolveInfo

    def to_dict(self) -> dict:
        return {"target_pct": round(self.target * 100, 3), "status": self.status,
                "annual_cost_cny": None if self.annual_cost_cny is None else round(self.annual_cost_cny, 2),
                "cost_breakdown_cny": {k: round(v, 2) for k, v in self.cost_breakdown_cny.items()},
                "pv_kwp": {k: round(v, 2) for k, v in self.pv_kwp.items()},
                "storage_kw": {k: round(v, 2) for k, v in self.storage_kw.items()},
                "storage_kwh": {k: round(v, 2) for k, v in self.storage_kwh.items()},
                "heat_pump_kw": {k: round(v, 2) for k, v in self.heat_pump_kw.items()},
                "purchases_mwh": {k: round(v, 3) for k, v in self.purchases_mwh.items()},
                "green_ratio_pct": None if self.green_ratio is None else round(self.green_ratio * 100, 3),
                "solve_s": round(self.solve.wall_time_s, 3)}


def _penalty(day: DispatchInputs, load_id: str) -> float:
    return next(c.penalty_cny_per_kwh for c in day.curtailable if c.id == load_id)


class SizingModel:
    """The parent model (see the module docstring); build once, :meth:`solve` for any target."""

    def __init__(self, problem: SizingProblem, options: SolverOptions | None = None,
                 highs_options: dict | None = None) -> None:
        start = time.perf_counter()
        self.problem = problem
        self.options = options or SolverOptions(time_limit_s=600)
        with PauseGC():
            self.day_models = [DispatchModel(d, switches=False) for d in problem.days]
            self.m = self._build()
        self.build_time_s = time.perf_counter() - start
        if highs_options is None:  # interior point is much faster than simplex on a year of days (docs/performance.md)
            highs_options = {"solver": "ipm"} if len(problem.days) > IPM_ABOVE_DAYS else {}
        self.solver = DirectHighs(self.options, highs_options)

    def _build(self) -> pyo.ConcreteModel:
        pb = self.problem
        p = pyo.ConcreteModel(name="sizing")
        days = []
        for k, dm in enumerate(self.day_models):
            dm.m.objective.deactivate()
            p.add_component(f"day{k}", dm.m)
            days.append(dm.m)
        define_pv_capacity(p, days, pb.pv)
        define_storage_capacity(p, days, pb.storage)
        define_heat_pump_capacity(p, days, pb.heat_pumps)
        define_month_peaks(p, days, pb.months)
        define_green_purchases(p, pb.purchases)
        define_annual_green_ratio(p, days, pb.weights, pb.onsite_certificate_share, pb.fixed_green_kwh,
                                  [g.id for g in pb.purchases if g.bundled])
        pv_cost = {c.id: c.cost_cny_per_kwp_year for c in pb.pv}
        st = {c.id: c for c in pb.storage}
        price = {g.id: g.price_cny_per_mwh / 1000 for g in pb.purchases}
        p.cost_operation = pyo.Expression(expr=pyo.quicksum(w * m.objective.expr for w, m in zip(pb.weights, days, strict=True)))
        p.cost_demand = pyo.Expression(expr=pb.demand_charge_cny_per_kw_month * pyo.quicksum(p.month_peak[mu] for mu in p.MONTHS)
                                       * (12 / len(p.MONTHS)))
        p.cost_pv = pyo.Expression(expr=pyo.quicksum(pv_cost[c] * p.kwp[c] for c in p.PV_ADD))
        p.cost_storage = pyo.Expression(expr=pyo.quicksum(st[c].cost_cny_per_kw_year * p.p_cap[c]
                                                          + st[c].cost_cny_per_kwh_year * p.e_cap[c] for c in p.ST_ADD))
        hp = {c.id: c.cost_cny_per_kw_year for c in pb.heat_pumps}
        p.cost_heat_pumps = pyo.Expression(expr=pyo.quicksum(hp[c] * p.hp_cap[c] for c in p.HP_ADD))
        # fuel for the heat the added heat pumps do not serve: the shedding penalty of their loads
        p.cost_fuel = pyo.Expression(expr=pyo.quicksum(
            w * m._dt * _penalty(day, c) * m.p_shed[c, t]
            for w, m, day in zip(pb.weights, days, pb.days, strict=True) for c in p.HP_ADD for t in m.T))
        p.cost_purchases = pyo.Expression(expr=pyo.quicksum(price[g] * p.g_buy[g] for g in p.BUY))
        p.objective = pyo.Objective(expr=p.cost_operation + p.cost_demand + p.cost_pv + p.cost_storage
                                    + p.cost_heat_pumps + p.cost_purchases, sense=pyo.minimize)
        return p

    def solve(self, target: float) -> SizingResult:
        """Minimise the annual cost subject to the annual green-power ratio >= ``target`` (0–1)."""
        p = self.m
        p.min_ratio.set_value(float(target))
        info = self.solver.solve(p)
        ok = info.status.has_solution
        val = (lambda e: float(pyo.value(e))) if ok else (lambda e: 0.0)
        breakdown = {}
        if ok:
            fuel = val(p.cost_fuel)
            breakdown = {"operation": val(p.cost_operation) - fuel, "fuel": fuel, "demand_charge": val(p.cost_demand),
                         "pv_capital": val(p.cost_pv), "storage_capital": val(p.cost_storage),
                         "heat_pump_capital": val(p.cost_heat_pumps), "green_purchases": val(p.cost_purchases)}
        cons = val(p.annual_consumption) if ok else 0.0
        share = self.problem.onsite_certificate_share
        green = (share * val(p.annual_onsite_green) + sum(val(p.g_buy[g]) for g in p.BUY) + self.problem.fixed_green_kwh)
        return SizingResult(
            target=float(target), status=str(info.status), ok=ok,
            annual_cost_cny=sum(breakdown.values()) if ok else None, cost_breakdown_cny=breakdown,
            pv_kwp={c: val(p.kwp[c]) for c in p.PV_ADD}, storage_kw={c: val(p.p_cap[c]) for c in p.ST_ADD},
            storage_kwh={c: val(p.e_cap[c]) for c in p.ST_ADD}, heat_pump_kw={c: val(p.hp_cap[c]) for c in p.HP_ADD},
            purchases_mwh={g: val(p.g_buy[g]) / 1000 for g in p.BUY},
            green_ratio=green / cons if ok and cons > 0 else None, solve=info)

    def schedules(self) -> list[Schedule]:
        """The days' schedules of the last solve (with the sizes chosen)."""
        return [extract_schedule(dm) for dm in self.day_models]
