"""Target planner: the cheapest added PV, storage and green purchases that reach an annual green-power ratio.

Site → :class:`optimizer.sizing.SizingProblem`:

1. Candidates from the site file's ``study:`` block: added PV per roof (``roofs``, up to ``max_added_kwp``
   each), added storage (``storage``), green-power trading (always) and unbundled certificates (only when
   the site's claim scheme accepts them, ``green_power.unbundled_certificates_accepted``, or when asked).
   Costs from ``data/sizing_costs.yaml`` (illustrative defaults, sources there) or a user file, annualised
   with the capital-recovery factor :math:`\\frac{i(1+i)^n}{(1+i)^n-1}` plus O&M.
2. A candidate site: the site plus the candidates as ordinary assets at their largest size, so each day's
   inputs come from the same adapter as every day-ahead plan (transformer limits included).
3. A year of inputs (:func:`microgrid.study.year_inputs`) and either every day (weight 1) or
   representative days (:mod:`microgrid.study.repdays`) with weights, plus each month's peak-net-load day
   (weight 1) for the demand charge.
4. :class:`optimizer.sizing.SizingModel` solved for the target, and for the curve over targets.

The design is checked, when asked, by an annual study of the site with the chosen sizes and purchases
(:func:`verify_design`): day-by-day operation and the report accounting, not the sizing model's own view.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from microgrid.errors import UserError
from microgrid.planning.adapter import PlanOptions, build_dispatch_inputs
from microgrid.planning.tariff import demand_charge_cny_per_kw_month
from microgrid.site.models import Battery, FlexibleLoad, PVPlant, Site
from microgrid.site.study import FuelBaseline
from microgrid.study.repdays import RepresentativeDays, day_features, representative_days
from microgrid.study.year import YearInputs, year_inputs
from optimizer import EndRule, SolverOptions
from optimizer.forecast import cop_carnot
from optimizer.sizing import (
    GreenPurchase,
    HeatPumpCandidate,
    PVCandidate,
    SizingModel,
    SizingProblem,
    SizingResult,
    StorageCandidate,
)

COSTS_FILE = Path(__file__).resolve().parent / "data" / "sizing_costs.yaml"
CURVE_TARGETS = tuple(range(20, 85, 5))
"""Targets of the cost–green-ratio curve, percent."""


def crf(rate: float, years: float) -> float:
    """Capital-recovery factor: annual payment per unit of capital at ``rate`` over ``years``."""
    if rate == 0:
        return 1.0 / years
    g = (1 + rate) ** years
    return rate * g / (g - 1)


@dataclass(frozen=True)
class Costs:
    """Annualised costs per unit (CNY per year), from the cost file."""

    pv_cny_per_kwp_year: float
    storage_cny_per_kw_year: float
    storage_cny_per_kwh_year: float
    heat_pump_cny_per_kw_year: float
    trading_cny_per_mwh: float
    certificate_cny_per_mwh: float
    illustrative: bool
    source: dict

    @classmethod
    def load(cls, path: str | Path | None = None) -> Costs:
        file = Path(path) if path else COSTS_FILE
        try:
            spec = yaml.safe_load(file.read_text(encoding="utf-8"))
            rate = float(spec["discount_rate_pct"]) / 100
            pv, st = spec["pv"], spec["storage"]

            def annual(capex: float, item: dict) -> float:
                return capex * (crf(rate, float(item["lifetime_years"])) + float(item["om_pct_per_year"]) / 100)

            return cls(
                pv_cny_per_kwp_year=annual(float(pv["capex_cny_per_kwp"]), pv),
                storage_cny_per_kw_year=annual(float(st["capex_cny_per_kw"]), st),
                storage_cny_per_kwh_year=annual(float(st["capex_cny_per_kwh"]), st),
                heat_pump_cny_per_kw_year=annual(float(spec["heat_pump"]["capex_cny_per_kw"]), spec["heat_pump"]),
                trading_cny_per_mwh=float(spec["green_trading"]["premium_cny_per_mwh"]),
                certificate_cny_per_mwh=float(spec["certificates"]["price_cny_per_certificate"]),
                illustrative=bool(spec.get("illustrative", False)), source=spec)
        except FileNotFoundError:
            raise UserError.of("uerr.costs_not_found", path=str(file)) from None
        except (yaml.YAMLError, KeyError, TypeError, ValueError) as exc:
            raise UserError.of("uerr.costs_invalid", path=str(file), detail=f"{type(exc).__name__}: {exc}",
                               example=COSTS_FILE.name) from None


def roof_id(i: int, tenant: str) -> str:
    return f"pv_add_{tenant}_{i}"


def candidate_site(site: Site) -> Site:
    """The site with every candidate as an asset at its largest size (see the module docstring)."""
    study = site.study
    pv = list(site.assets.pv)
    for i, roof in enumerate(study.roofs):
        if roof.max_added_kwp > 0:
            pv.append(PVPlant(id=roof_id(i, roof.tenant), tenant=roof.tenant, bus=roof.bus, kwp=roof.max_added_kwp,
                              inverter_ac_kw=roof.max_added_kwp / roof.dc_ac_ratio, tilt_deg=roof.tilt_deg,
                              azimuth_deg=roof.azimuth_deg))
    batteries = list(site.assets.batteries)
    for s in study.storage:
        if s.max_power_kw > 0 and s.max_energy_kwh > 0:
            batteries.append(Battery(id=s.id, tenant=s.tenant, bus=s.bus, p_charge_max_kw=s.max_power_kw,
                                     p_discharge_max_kw=s.max_power_kw, e_kwh=s.max_energy_kwh, soc_min_pct=0,
                                     soc_max_pct=100, soc_initial_pct=0, eta_charge=s.eta_charge,
                                     eta_discharge=s.eta_discharge))
    flex = list(site.assets.flexible_loads)
    for fb in study.fuel_baselines:
        if fb.max_heat_pump_kw > 0:
            flex.append(electrified_load(fb, fb.max_heat_pump_kw, 0.0))
    assets = site.assets.model_copy(update={"pv": pv, "batteries": batteries, "flexible_loads": flex})
    return site.model_copy(update={"assets": assets})


def hp_id(fb: FuelBaseline) -> str:
    return f"hp_add_{fb.id}"


def electrified_load(fb: FuelBaseline, p_max_kw: float, penalty: float) -> FlexibleLoad:
    """A heat pump taking over a fuel-fired heat demand, as a curtailable load: its baseline is the heat
    demand at the COP (column ``flex_hp_add_<id>_kw``), shedding means the fuel serves that heat and costs
    ``penalty`` CNY per kWh_el-equivalent."""
    return FlexibleLoad(id=hp_id(fb), tenant=fb.tenant, bus=fb.bus, kind="curtailable",
                        name=f"heat pump replacing {fb.fuel} ({fb.id})", p_max_kw=p_max_kw,
                        baseline_profile=f"flex_{hp_id(fb)}_kw", max_curtail_pct=100, penalty_cny_per_kwh=penalty)


def add_electrification_columns(site: Site, frame: pd.DataFrame) -> None:
    """``flex_hp_add_<id>_kw`` (heat demand ÷ COP, kW_el) and ``cop_hp_add_<id>`` for every fuel baseline."""
    for fb in site.study.fuel_baselines:
        cop = cop_carnot(frame["temp_air_c"].to_numpy(), fb.supply_temp_c, fb.eta_carnot, fb.cop_min, fb.cop_max)
        frame[f"cop_{hp_id(fb)}"] = cop
        frame[f"flex_{hp_id(fb)}_kw"] = frame[fb.heat_profile].to_numpy() / cop


def _fuel_penalty(fb: FuelBaseline, frame: pd.DataFrame) -> float:
    """Fuel cost per kWh_el-equivalent over ``frame``: fuel cost per kWh_th × the heat-weighted mean COP."""
    heat = frame[fb.heat_profile].to_numpy()
    cop = frame[f"cop_{hp_id(fb)}"].to_numpy()
    mean_cop = float((heat * cop).sum() / heat.sum()) if heat.sum() > 0 else float(cop.mean())
    return fb.fuel_cost_cny_per_kwh_th * mean_cop


@dataclass
class TargetPlan:
    """The sizing problem of a site, its model and results."""

    site: Site
    candidates: Site
    inputs: YearInputs
    rep: RepresentativeDays | None
    """``None`` when every day of the year is in the model."""
    costs: Costs
    model: SizingModel
    results: list[SizingResult] = field(default_factory=list)
    certificates: bool = False

    @property
    def n_days(self) -> int:
        return len(self.model.day_models)


def build_target_plan(site: Site, year: int, *, step_min: int = 60, per_month: int | None = 2,
                      costs: Costs | None = None, certificates: bool | None = None, weather_csv: str | None = None,
                      solver: SolverOptions | None = None, inputs: YearInputs | None = None) -> TargetPlan:
    """Build the sizing model (``per_month`` representative days a month, or every day when ``None``)."""
    costs = costs or Costs.load()
    cand = candidate_site(site)
    yi = inputs or year_inputs(cand, year, step_min=step_min, weather_csv=weather_csv)
    add_electrification_columns(site, yi.frame)
    certificates = site.green_power.unbundled_certificates_accepted if certificates is None else certificates
    rep = None
    if per_month is None:
        days, weights = yi.days, [1.0] * len(yi.days)
    else:
        loads = [c for c in yi.frame.columns if c.startswith(("load_", "heat_", "flex_"))]
        pvs = [f"pv_{p.id}_kw" for p in cand.assets.pv]
        existing = [f"pv_{p.id}_kw" for p in site.assets.pv]
        net = (yi.frame[loads].sum(axis=1) - yi.frame[existing].sum(axis=1)).tz_convert(site.timezone)
        peak = net.groupby(net.index.date).max()
        rep = representative_days(day_features(yi.frame, loads, pvs, site.timezone), per_month, peak=peak)
        days, weights = rep.days, rep.weights
    added_batteries = {s.id for s in site.study.storage}
    share = site.green_power.onsite_certificates_retained_pct / 100
    day_inputs = []
    for day in days:
        frame = yi.day_frame(day)
        d = build_dispatch_inputs(cand, frame.index, options=PlanOptions(demand_charge_share=0.0), forecast=frame)
        d.green = None
        d.batteries = [dataclasses.replace(b, end_rule=EndRule.FREE) if b.id in added_batteries else b
                       for b in d.batteries]
        penalties = {hp_id(fb): _fuel_penalty(fb, frame) for fb in site.study.fuel_baselines}
        d.curtailable = [dataclasses.replace(c, penalty_cny_per_kwh=penalties[c.id]) if c.id in penalties else c
                         for c in d.curtailable]
        day_inputs.append(d)
    gp = site.green_power
    fixed = (gp.green_trading_mwh_per_month + gp.direct_green_supply_mwh_per_month) * 12 * 1000
    if gp.unbundled_certificates_accepted:
        fixed += gp.certificates_retired_mwh_per_year * 1000
    purchases = [GreenPurchase("trading", costs.trading_cny_per_mwh, bundled=True)]
    if certificates:
        purchases.append(GreenPurchase("certificates", costs.certificate_cny_per_mwh))
    problem = SizingProblem(
        days=day_inputs, weights=weights, months=[d.month for d in days],
        demand_charge_cny_per_kw_month=demand_charge_cny_per_kw_month(site), onsite_certificate_share=share,
        fixed_green_kwh=fixed,
        pv=[PVCandidate(roof_id(i, r.tenant), r.max_added_kwp, costs.pv_cny_per_kwp_year)
            for i, r in enumerate(site.study.roofs) if r.max_added_kwp > 0],
        storage=[StorageCandidate(s.id, s.max_power_kw, s.max_energy_kwh, costs.storage_cny_per_kw_year,
                                  costs.storage_cny_per_kwh_year, (s.soc_max_pct - s.soc_min_pct) / 100)
                 for s in site.study.storage if s.max_power_kw > 0 and s.max_energy_kwh > 0],
        heat_pumps=[HeatPumpCandidate(hp_id(fb), fb.max_heat_pump_kw, costs.heat_pump_cny_per_kw_year)
                    for fb in site.study.fuel_baselines if fb.max_heat_pump_kw > 0],
        purchases=purchases)
    model = SizingModel(problem, solver)
    return TargetPlan(site, cand, yi, rep, costs, model, certificates=certificates)


def sized_site(plan: TargetPlan, result: SizingResult) -> Site:
    """The site with the chosen additions as assets and the chosen purchases in ``green_power``."""
    site = plan.site
    pv = list(site.assets.pv)
    for i, roof in enumerate(site.study.roofs):
        kwp = result.pv_kwp.get(roof_id(i, roof.tenant), 0.0)
        if kwp > 1e-3:
            pv.append(PVPlant(id=roof_id(i, roof.tenant), tenant=roof.tenant, bus=roof.bus, kwp=kwp,
                              inverter_ac_kw=kwp / roof.dc_ac_ratio, tilt_deg=roof.tilt_deg, azimuth_deg=roof.azimuth_deg))
    batteries = list(site.assets.batteries)
    for s in site.study.storage:
        p, e = result.storage_kw.get(s.id, 0.0), result.storage_kwh.get(s.id, 0.0)
        if p > 1e-3 and e > 1e-3:
            batteries.append(Battery(id=s.id, tenant=s.tenant, bus=s.bus, p_charge_max_kw=p, p_discharge_max_kw=p,
                                     e_kwh=e, soc_min_pct=s.soc_min_pct, soc_max_pct=s.soc_max_pct,
                                     soc_initial_pct=s.soc_min_pct, eta_charge=s.eta_charge, eta_discharge=s.eta_discharge))
    flex = list(site.assets.flexible_loads)
    for fb in site.study.fuel_baselines:
        kw = result.heat_pump_kw.get(hp_id(fb), 0.0)
        if kw > 1e-3:
            flex.append(electrified_load(fb, kw, _fuel_penalty(fb, plan.inputs.frame)))
    gp = site.green_power
    certs = result.purchases_mwh.get("certificates", 0.0)
    green = gp.model_copy(update={
        "green_trading_mwh_per_month": gp.green_trading_mwh_per_month + result.purchases_mwh.get("trading", 0.0) / 12,
        "certificates_retired_mwh_per_year": gp.certificates_retired_mwh_per_year + certs,
        "unbundled_certificates_accepted": gp.unbundled_certificates_accepted or certs > 0})
    assets = site.assets.model_copy(update={"pv": pv, "batteries": batteries, "flexible_loads": flex})
    return site.model_copy(update={"assets": assets, "green_power": green})


def sized_inputs(plan: TargetPlan, result: SizingResult) -> YearInputs:
    """The planner's year of inputs for the sized site: added PV scaled to the chosen kWp (PV output is linear
    in the rating at a fixed DC/AC ratio), heat-pump baselines capped at the chosen rating."""
    frame = plan.inputs.frame.copy()
    for i, roof in enumerate(plan.site.study.roofs):
        col = f"pv_{roof_id(i, roof.tenant)}_kw"
        if col in frame and roof.max_added_kwp > 0:
            frame[col] = frame[col] * result.pv_kwp.get(roof_id(i, roof.tenant), 0.0) / roof.max_added_kwp
    for fb in plan.site.study.fuel_baselines:
        col = f"flex_{hp_id(fb)}_kw"
        frame[col] = np.minimum(frame[col].to_numpy(), result.heat_pump_kw.get(hp_id(fb), 0.0))
    return dataclasses.replace(plan.inputs, frame=frame)


def curve(plan: TargetPlan, targets_pct: tuple[int, ...] = CURVE_TARGETS) -> list[SizingResult]:
    """The cost–green-ratio curve: one solve of the same model per target (infeasible ones say so)."""
    return [plan.model.solve(t / 100) for t in targets_pct]


def full_year_error(plan: TargetPlan, target: float) -> dict:
    """Solve the same target over every day of the year; the representative-day cost error against it."""
    rep = plan.model.solve(target)
    full = build_target_plan(plan.site, plan.inputs.year, step_min=plan.inputs.step_min, per_month=None,
                             costs=plan.costs, certificates=plan.certificates, inputs=plan.inputs)
    res = full.model.solve(target)
    out = {"status": res.status, "days": full.n_days, "build_s": round(full.model.build_time_s, 3),
           "solve_s": round(res.solve.wall_time_s, 3), "annual_cost_cny": res.annual_cost_cny, "error_pct": None,
           "result": res.to_dict()}
    if res.ok and rep.ok and res.annual_cost_cny:
        out["error_pct"] = round((rep.annual_cost_cny - res.annual_cost_cny) / abs(res.annual_cost_cny) * 100, 4)
    return out


def verify_design(plan: TargetPlan, result: SizingResult, *, progress=None) -> dict:
    """Annual study of the sized site: its green ratio and costs by the report accounting (not the model's)."""
    from microgrid.study.run import run_study

    site = sized_site(plan, result)
    study = run_study(site, plan.inputs.year, inputs=dataclasses.replace(sized_inputs(plan, result), site=site),
                      progress=progress)
    year = study.report.rows("year", "park")[0]
    b = result.cost_breakdown_cny
    fixed = sum(b.get(k, 0.0) for k in ("pv_capital", "storage_capital", "heat_pump_capital", "green_purchases"))
    fuel = sum(c.penalty_cny_per_kwh * frame_shed for c, frame_shed in _shed_kwh(site, study))
    return {"green_ratio_pct": year.green_ratio_pct, "cost_total_cny": year.cost_total_cny, "fuel_cny": fuel,
            "annualised_cost_cny": year.cost_total_cny + fuel + fixed,
            "model_annual_cost_cny": result.annual_cost_cny, "fallback_days": len(study.fallback_days),
            "wall_s": round(study.wall_s, 1)}


def _shed_kwh(site: Site, study) -> list[tuple[FlexibleLoad, float]]:
    """Heat-pump loads of the sized site with the energy they shed (served by fuel) over the study, kWh_el."""
    out = []
    step_h = study.inputs.step_min / 60
    for f in site.assets.flexible_loads:
        if f.id.startswith("hp_add_") and f"{f.id}_shed_kw" in study.schedule:
            out.append((f, float(study.schedule[f"{f.id}_shed_kw"].sum()) * step_h))
    return out
