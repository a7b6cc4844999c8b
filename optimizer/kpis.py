"""Key figures of a schedule, computed from the schedule and its inputs only (optimised or baseline alike).

:func:`compute_kpis` returns a JSON-ready dict; :data:`KPI_DOCS` describes each key (units in the
names). The cost figures use the same terms as the objective, so for an optimised plan
``cost_total_cny`` equals the solver's objective.
"""

from __future__ import annotations

from microgrid.accounting.rules import DemandRule, green_parts, scope2_location_kg
from optimizer.inputs import DispatchInputs, as_array
from optimizer.results import Schedule

KPI_DOCS: dict[str, str] = {
    "period_start": "start of the first interval (ISO 8601 with offset)",
    "period_end": "end of the last interval",
    "step_min": "interval length, minutes",
    "source": "'optimizer', 'relaxed' (elastic plan of an infeasible problem) or 'baseline' (rule-based fallback)",
    "cost_total_cny": "total of cost_breakdown_cny",
    "cost_breakdown_cny": "energy_import, export_revenue (<= 0), demand_charge (increase of the month's demand "
    "charge weighed by the daily share), battery_throughput, load_curtailment, carbon (carbon price x CO2)",
    "import_kwh": "energy imported at the PCC",
    "export_kwh": "energy exported at the PCC",
    "consumption_kwh": "total electricity consumed on site = import + PV generation - export",
    "pv_available_kwh": "PV energy available (forecast)",
    "pv_generation_kwh": "PV energy produced after curtailment",
    "pv_self_consumed_kwh": "PV energy consumed on site = generation - export",
    "pv_curtailed_kwh": "PV energy curtailed = available - generation",
    "self_consumption_ratio": "pv_self_consumed_kwh / pv_generation_kwh",
    "battery_charge_kwh": "AC energy charged into all batteries",
    "battery_discharge_kwh": "AC energy discharged from all batteries",
    "heat_supplied_kwh_th": "heat produced by all heat pumps",
    "ev_delivered_kwh": "energy delivered to vehicles",
    "peak_import_kw": "highest interval-average import in the horizon",
    "month_peak_before_kw": "month-to-date peak carried into the horizon",
    "month_peak_after_kw": "month's peak after the horizon",
    "green_energy_kwh": "on-site PV consumed with retained certificates + green energy bought (capped at consumption)",
    "green_power_ratio": "green_energy_kwh / consumption_kwh (绿电占比, 0-1)",
    "min_green_ratio": "required ratio, or null",
    "co2_kg": "location-based Scope 2 emissions = import x emission factor",
    "emission_factor_kg_per_kwh": "factor used",
    "emission_factor_source": "which factor, year and document",
    "max_balance_error_kw": "largest |sum of injections| over the intervals (0 for a balanced plan)",
}


def _r(x: float, nd: int = 3) -> float:
    return float(round(float(x), nd)) + 0.0  # + 0.0 turns -0.0 into 0.0


def compute_kpis(schedule: Schedule, inputs: DispatchInputs) -> dict:
    """Cost with breakdown, energies, peak, PV use, green-power ratio and CO2 of ``schedule``."""
    f = schedule.frame
    dt = inputs.step_h
    n = inputs.n_steps
    kinds = schedule.assets
    imp, exp = f["grid_import_kw"].to_numpy(), f["grid_export_kw"].to_numpy()
    price_imp = as_array(inputs.tariff.import_price_cny_per_kwh, n)
    price_exp = inputs.export_price()
    pv_ids = [a for a, k in kinds.items() if k == "pv"]
    bat_ids = [a for a, k in kinds.items() if k == "battery"]
    pv_gen = sum(f[f"{a}_kw"].sum() for a in pv_ids) * dt
    pv_avail = sum(f[f"{a}_avail_kw"].sum() for a in pv_ids) * dt
    import_kwh, export_kwh = imp.sum() * dt, exp.sum() * dt
    consumption = import_kwh + pv_gen - export_kwh
    self_consumed = max(pv_gen - export_kwh, 0.0)

    tariff = inputs.tariff
    peak = float(imp.max()) if n else 0.0
    before = float(tariff.month_peak_kw)
    after = max(before, peak)
    # The 105 %/x2 rule applies whatever the import cap (the optimizer may drop the constraint when the cap
    # keeps the import below the threshold; the bill does not).
    rule = DemandRule(tariff.demand_charge_cny_per_kw_month, tariff.declared_demand_kw,
                      tariff.demand_excess_threshold_pct, tariff.demand_excess_factor)
    demand = tariff.demand_charge_share * rule.increase_cny(before, after)
    throughput = sum(
        b.throughput_cost_cny_per_kwh * (f[f"{b.id}_charge_kw"].sum() + f[f"{b.id}_discharge_kw"].sum()) * dt
        for b in inputs.batteries
    )
    curtail_pen = sum(c.penalty_cny_per_kwh * f[f"{c.id}_shed_kw"].sum() * dt for c in inputs.curtailable)
    carbon = inputs.carbon
    co2 = scope2_location_kg(import_kwh, carbon.emission_factor_kg_per_kwh)
    breakdown = {
        "energy_import": _r((price_imp * imp).sum() * dt, 2),
        "export_revenue": _r(-(price_exp * exp).sum() * dt, 2),
        "demand_charge": _r(demand, 2),
        "battery_throughput": _r(throughput, 2),
        "load_curtailment": _r(curtail_pen, 2),
        "carbon": _r(carbon.carbon_price_cny_per_t * co2 / 1000, 2),
    }
    green = inputs.green
    parts = green_parts(consumption, self_consumed, retained_share=green.onsite_certificate_share if green else 1.0,
                        trading_kwh=green.green_purchased_kwh if green else 0.0)
    green_kwh = parts.total_kwh
    balance = schedule.balance_error_kw().abs()
    return {
        "period_start": inputs.index[0].isoformat(),
        "period_end": inputs.end.isoformat(),
        "step_min": _r(dt * 60, 1),
        "source": schedule.source,
        "cost_total_cny": _r(sum(breakdown.values()), 2),
        "cost_breakdown_cny": breakdown,
        "import_kwh": _r(import_kwh, 1),
        "export_kwh": _r(export_kwh, 1),
        "consumption_kwh": _r(consumption, 1),
        "pv_available_kwh": _r(pv_avail, 1),
        "pv_generation_kwh": _r(pv_gen, 1),
        "pv_self_consumed_kwh": _r(self_consumed, 1),
        "pv_curtailed_kwh": _r(max(pv_avail - pv_gen, 0.0), 1),
        "self_consumption_ratio": _r(self_consumed / pv_gen, 4) if pv_gen > 0 else None,
        "battery_charge_kwh": _r(sum(f[f"{b}_charge_kw"].sum() for b in bat_ids) * dt, 1),
        "battery_discharge_kwh": _r(sum(f[f"{b}_discharge_kw"].sum() for b in bat_ids) * dt, 1),
        "heat_supplied_kwh_th": _r(sum(f[f"{h.id}_heat_kw_th"].sum() for h in inputs.heat_pumps) * dt, 1),
        "ev_delivered_kwh": _r(sum(f[f"{x.id}_load_kw"].sum() * x.eta_charge for x in inputs.ev_depots) * dt, 1),
        "peak_import_kw": _r(peak, 1),
        "month_peak_before_kw": _r(before, 1),
        "month_peak_after_kw": _r(after, 1),
        "green_energy_kwh": _r(green_kwh, 1),
        "green_power_ratio": _r(parts.ratio, 4) if parts.ratio is not None else None,
        "min_green_ratio": green.min_ratio if green else None,
        "co2_kg": _r(co2, 1),
        "emission_factor_kg_per_kwh": carbon.emission_factor_kg_per_kwh,
        "emission_factor_source": carbon.emission_factor_label,
        "max_balance_error_kw": _r(float(balance.max()) if len(balance) else 0.0, 4),
    }
