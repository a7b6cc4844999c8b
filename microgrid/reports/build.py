"""Build a :class:`~microgrid.reports.model.Report` from an interval table and the site."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from microgrid.errors import UserError
from microgrid.reports.accounting import AllocationRule, GreenInstruments, entity_ledgers
from microgrid.reports.model import Accounts, FactorInfo, Gap, Report, ReportMeta
from microgrid.reports.periods import (
    Context,
    group_keys,
    interval_values,
    month_to_date_peaks,
    summarize,
    tou_frame,
)
from microgrid.reports.table import PARK, IntervalTable
from microgrid.reports.targets import policy_targets, target_progress
from microgrid.site.models import EmissionFactor, Site


class ReportError(UserError):
    """A report that cannot be made as asked (unknown tenant, empty period, bad option)."""

    exit_code = 2


@dataclass(frozen=True)
class ReportOptions:
    allocation_rule: AllocationRule = "consumption"
    min_coverage: float = 0.5
    """Intervals covered less than this (0–1) are gaps."""
    grid_renewable_share_pct: float | None = None
    """Renewable share of grid electricity for the location-based share (not in the site file yet)."""
    emission_factor: str | None = None
    """Location-based factor id (default: the site's ``emissions.default``)."""
    market_factor: str | None = None
    """Residual-mix factor id for market-based Scope 2 (default: a ``residual`` factor of the site, else the
    location-based one, said so in the report)."""


def _factor(f: EmissionFactor) -> FactorInfo:
    return FactorInfo(id=f.id, scope=f.scope, region=f.region, year=f.year, kg_co2_per_kwh=f.kg_co2_per_kwh,
                      document=f.document, url=f.url)


def _find_factor(site: Site, factor_id: str) -> EmissionFactor:
    for f in site.emissions.factors:
        if f.id == factor_id:
            return f
    known = ", ".join(f.id for f in site.emissions.factors)
    raise ReportError(f"emission factor '{factor_id}' is not in the site file (known: {known})")


def round_trip_efficiency(site: Site) -> float:
    """Energy-weighted round-trip efficiency of the site's batteries (1.0 without batteries)."""
    bats = site.assets.batteries
    total = sum(b.e_kwh for b in bats)
    return sum(b.e_kwh * b.round_trip_efficiency for b in bats) / total if total else 1.0


def context(site: Site, table: IntervalTable, options: ReportOptions) -> tuple[Context, dict]:
    loc = _find_factor(site, options.emission_factor or site.emissions.default)
    secondary = _find_factor(site, site.emissions.secondary) if site.emissions.secondary else None
    if options.market_factor:
        market, note = _find_factor(site, options.market_factor), "residual-mix factor chosen for the report"
    else:
        residual = [f for f in site.emissions.factors if f.scope == "residual"]
        if residual:
            market, note = residual[0], "residual-mix factor from the site file"
        else:
            market = loc
            note = ("no residual-mix factor in the site file: market-based Scope 2 uses the location-based "
                    "factor (a residual mix is usually higher, so this understates market-based emissions)")
    kva = {t.id: site.network.transformers[[x.id for x in site.network.transformers].index(t.transformer)].sn_kva
           for t in site.tenants if t.transformer}
    total_kva = sum(tr.sn_kva for tr in site.network.transformers)
    ctx = Context(
        tariff=site.tariff, interval_min=table.interval_min, timezone=table.timezone,
        retained_share=site.green_power.onsite_certificates_retained_pct / 100.0,
        ef_location=loc.kg_co2_per_kwh, ef_secondary=secondary.kg_co2_per_kwh if secondary else None,
        ef_market=market.kg_co2_per_kwh,
        grid_renewable_share=None if options.grid_renewable_share_pct is None
        else options.grid_renewable_share_pct / 100.0,
        declared_demand_kw=site.grid.declared_demand_kw, capacity_kva=total_kva,
        capacity_share={k: v / total_kva for k, v in kva.items()} if total_kva else {},
    )
    factors = {"location": _factor(loc), "secondary": _factor(secondary) if secondary else None,
               "market": _factor(market), "market_note": note}
    return ctx, factors


def find_gaps(ledger: pd.DataFrame, entity: str, step: pd.Timedelta) -> list[Gap]:
    """Runs of consecutive invalid intervals."""
    invalid = ~ledger["valid"].astype(bool).to_numpy()
    gaps, start = [], None
    for i, bad in enumerate(np.append(invalid, False)):
        if bad and start is None:
            start = i
        elif not bad and start is not None:
            gaps.append(Gap(entity=entity, start=ledger.index[start].to_pydatetime(),
                            end=(ledger.index[i - 1] + step).to_pydatetime(), intervals=i - start))
            start = None
    return gaps


def build_report(site: Site, table: IntervalTable, *, tenant: str | None = None,
                 options: ReportOptions | None = None) -> Report:
    """Accounts per day, month, year and for the whole period, park and tenants (or one ``tenant``)."""
    options = options or ReportOptions()
    if options.grid_renewable_share_pct is None and site.green_power.grid_renewable_share_pct is not None:
        options = replace(options, grid_renewable_share_pct=site.green_power.grid_renewable_share_pct)
    if tenant is not None and tenant not in table.tenants:
        raise ReportError(f"--tenant: '{tenant}' is not a tenant of site '{site.id}' "
                          f"(tenants: {', '.join(table.tenants) or 'none'})")
    if not 0 < options.min_coverage <= 1:
        raise ReportError("min_coverage must lie in (0, 1]")
    ctx, factors = context(site, table, options)
    ledgers = entity_ledgers(table, min_coverage=options.min_coverage,
                             round_trip_efficiency=round_trip_efficiency(site),
                             export_limit_kw=site.grid.export_limit_kw,
                             instruments=GreenInstruments.from_site(site.green_power), rule=options.allocation_rule)
    park = ledgers[PARK]
    tou = tou_frame(park.index, ctx)
    label = f"{table.first_day.isoformat()}..{table.last_day.isoformat()}"
    entities = [PARK, *table.tenants] if tenant is None else [tenant]
    values = {e: interval_values(ledgers[e], park, e, tou, ctx) for e in {PARK, *entities}}
    levels: dict[str, list[Accounts]] = {"total": [], "day": [], "month": [], "year": []}
    for level in levels:
        keys = group_keys(park.index, level, ctx.timezone, label)  # type: ignore[arg-type]
        peaks = month_to_date_peaks(park["import_kwh"].where(park["valid"]), keys, ctx, table.month_peak_before_kw)
        park_rows = summarize(values[PARK], keys, level=level, entity=PARK, ctx=ctx,  # type: ignore[arg-type]
                              stored=park[["bat_stored_start_kwh", "bat_stored_end_kwh"]], month_peaks=peaks)
        losses = {a.period: (a.storage_losses_kwh, a.storage_charge_kwh + a.storage_discharge_kwh)
                  for a in park_rows}
        if PARK in entities:
            levels[level].extend(park_rows)
        for e in entities:
            if e == PARK:
                continue
            estimated = bool(ledgers[e]["estimated"].any())
            levels[level].extend(summarize(values[e], keys, level=level, entity=e, ctx=ctx,  # type: ignore[arg-type]
                                           park_losses=losses, estimated=estimated))
    step = pd.Timedelta(minutes=table.interval_min)
    gaps = find_gaps(park, PARK, step)
    if tenant is not None:
        gaps += find_gaps(ledgers[tenant], tenant, step)
    total_main = levels["total"][0]
    park_total = next(a for a in levels["total"] if a.entity == PARK) if tenant is None else None
    coverage = park_total.coverage_pct if park_total else total_main.coverage_pct
    meta = ReportMeta(
        site_id=site.id, site_name=site.site.name, first_day=table.first_day, last_day=table.last_day,
        timezone=table.timezone, interval_min=table.interval_min, tenant=tenant, data_source=table.source,
        data_note=table.source_note, generated_at=datetime.now(UTC), allocation_rule=options.allocation_rule,
        min_coverage_pct=options.min_coverage * 100, coverage_pct=coverage, gaps=gaps,
        factor_location=factors["location"], factor_secondary=factors["secondary"], factor_market=factors["market"],
        factor_market_note=factors["market_note"], tariff_name=site.tariff.name,
        tariff_illustrative=site.tariff.illustrative, tariff_source=site.tariff.source,
        certificates_retained_pct=site.green_power.onsite_certificates_retained_pct,
        grid_renewable_share_pct=options.grid_renewable_share_pct,
        warnings=_warnings(table, gaps, total_main, ledgers, entities), data_quality=list(table.findings),
        notes=_notes(table, site, options),
    )
    return Report(meta=meta, total=levels["total"], daily=levels["day"], monthly=levels["month"],
                  yearly=levels["year"], targets=target_progress(total_main, site.green_power.target_ratio_pct))


def _warnings(table: IntervalTable, gaps: list[Gap], total: Accounts, ledgers: dict, entities: list[str]
              ) -> list[str]:
    out = []
    if table.source != "metered":
        out.append(f"These figures are {table.source.upper()}, not metered: {table.source_note}")
    if table.findings:
        out.append(f"Data quality: {len(table.findings)} physically impossible interval(s) left out as gaps "
                   f"(first: {table.findings[0]}); see the data-quality findings.")
    if gaps:
        n = sum(g.intervals for g in gaps)
        hours = n * table.interval_min / 60
        out.append(f"Data gaps: {n} interval(s) ({hours:.2f} h) without usable data in {len(gaps)} gap(s); "
                   f"totals cover only the metered intervals (coverage {total.coverage_pct:.1f} %), "
                   "gaps are not counted as zero.")
    elif total.intervals_partial:
        out.append(f"{total.intervals_partial} interval(s) are estimated from partly covered data.")
    estimated = [e for e in entities if e != PARK and bool(ledgers[e]["estimated"].any())]
    if estimated:
        out.append(f"No own meter for tenant(s) {', '.join(estimated)}: their consumption is derived from the "
                   "park meters (see notes).")
    if not table.curtailment_known:
        out.append("PV curtailment was not measured for every plant; unmeasured curtailment counts as 0 "
                   "(the counterfactual savings are then conservative).")
    if any(not t.verified for t in policy_targets()):
        out.append("The Putian 35 %/45 % targets are quoted from the design brief and not yet confirmed "
                   "against the city's notice.")
    out.extend(table.notes)
    return out


def _notes(table: IntervalTable, site: Site, options: ReportOptions) -> list[str]:
    return [
        "Consumption = grid import − export + on-site PV generation (storage losses included).",
        "Green-power ratio (绿电占比) = (on-site PV consumed on site with retained certificates + "
        "direct green supply + green-power trading + retired certificates where accepted) / consumption. "
        "Export is attributed to PV first; PV that goes through storage and is exported later is taken off; "
        "no MWh is counted twice.",
        f"On-site certificates retained: {site.green_power.onsite_certificates_retained_pct:g} %. Purchases are "
        "spread evenly over their month (trading, direct supply) or year (certificates).",
        "Location-based renewable share (reported separately, never mixed into the ratio): on-site PV consumed "
        "+ the grid's renewable share × grid energy consumed"
        + ("." if options.grid_renewable_share_pct is not None else " — not shown: no grid renewable share given."),
        "Scope 2 location-based = grid import × grid factor; market-based = (grid import + on-site PV consumed "
        "whose certificates were sold − green purchases claimed) × residual factor.",
        f"Tenants: on-site PV and shared storage allocated per {table.interval_min}-min interval by the rule "
        f"'{options.allocation_rule}'; network losses and shared storage pro rata to load; grid import pro rata "
        "to consumption not covered by on-site PV; demand charge by the share of the park's peak interval. "
        "Tenant figures sum to the park.",
        "Counterfactual (savings): the same metered load and PV without storage and optimisation — battery "
        "flows removed, curtailed PV added back, export capped at the export limit "
        f"({site.grid.export_limit_kw:g} kW), same tariff and demand charge. Load shifting by the optimiser is "
        "kept (the metered load already contains it), so savings count storage and curtailment only.",
        "Basic (demand/capacity) charge: each month's charge on the peak interval of the reported days, spread "
        "pro rata over the days of the month.",
    ]
