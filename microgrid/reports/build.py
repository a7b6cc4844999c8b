"""Build a :class:`~microgrid.reports.model.Report` from an interval table and the site."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from microgrid.errors import UserError
from microgrid.i18n import both, t
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
    raise ReportError.of("uerr.emission_factor_unknown", id=factor_id, known=known)


def round_trip_efficiency(site: Site) -> float:
    """Energy-weighted round-trip efficiency of the site's batteries (1.0 without batteries)."""
    bats = site.assets.batteries
    total = sum(b.e_kwh for b in bats)
    return sum(b.e_kwh * b.round_trip_efficiency for b in bats) / total if total else 1.0


def context(site: Site, table: IntervalTable, options: ReportOptions) -> tuple[Context, dict]:
    loc = _find_factor(site, options.emission_factor or site.emissions.default)
    secondary = _find_factor(site, site.emissions.secondary) if site.emissions.secondary else None
    if options.market_factor:
        market, note = _find_factor(site, options.market_factor), both("rep.market.chosen")
    else:
        residual = [f for f in site.emissions.factors if f.scope == "residual"]
        if residual:
            market, note = residual[0], both("rep.market.site")
        else:
            market = loc
            note = both("rep.market.missing")
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
        raise ReportError.of("uerr.report_tenant_unknown", tenant=tenant, site=site.id,
                             tenants=", ".join(table.tenants) or "none")
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
        factor_market_note=factors["market_note"][0], factor_market_note_zh=factors["market_note"][1],
        site_name_zh=site.site.name_zh or "", tariff_name=site.tariff.name,
        tariff_illustrative=site.tariff.illustrative, tariff_source=site.tariff.source,
        certificates_retained_pct=site.green_power.onsite_certificates_retained_pct,
        grid_renewable_share_pct=options.grid_renewable_share_pct,
        data_note_zh=table.source_note_zh, data_quality=list(table.findings),
        **_split("warnings", _warnings(table, gaps, total_main, ledgers, entities)),
        **_split("notes", _notes(table, site, options)),
    )
    return Report(meta=meta, total=levels["total"], daily=levels["day"], monthly=levels["month"],
                  yearly=levels["year"], targets=target_progress(total_main, site.green_power.target_ratio_pct))


def _split(name: str, pairs: list[tuple[str, str]]) -> dict[str, list[str]]:
    return {name: [p[0] for p in pairs], f"{name}_zh": [p[1] for p in pairs]}


def _warnings(table: IntervalTable, gaps: list[Gap], total: Accounts, ledgers: dict, entities: list[str]
              ) -> list[tuple[str, str]]:
    """First-page notices as ``(English, Chinese)``."""
    out = []
    if table.source != "metered":
        out.append((t("rep.warn.not_metered", "en", source=table.source.upper(), note=table.source_note),
                    t("rep.warn.not_metered", "zh-CN", source=t(f"source.{table.source}", "zh-CN"),
                      note=table.source_note_zh or table.source_note)))
    if table.findings:
        out.append(both("rep.warn.quality", n=len(table.findings), first=table.findings[0]))
    if gaps:
        n = sum(g.intervals for g in gaps)
        out.append(both("rep.warn.gaps", n=n, hours=f"{n * table.interval_min / 60:.2f}", gaps=len(gaps),
                        coverage=f"{total.coverage_pct:.1f}"))
    elif total.intervals_partial:
        out.append(both("rep.warn.partial", n=total.intervals_partial))
    estimated = [e for e in entities if e != PARK and bool(ledgers[e]["estimated"].any())]
    if estimated:
        out.append(both("rep.warn.estimated", tenants=", ".join(estimated)))
    if not table.curtailment_known:
        out.append(both("rep.warn.curtailment"))
    if any(not t_.verified for t_ in policy_targets()):
        out.append(both("rep.warn.targets"))
    out.extend(zip(table.notes, table.notes_zh or table.notes, strict=False))
    return out


def _notes(table: IntervalTable, site: Site, options: ReportOptions) -> list[tuple[str, str]]:
    """Definitions and caveats as ``(English, Chinese)``."""
    location = both("rep.def.location")
    if options.grid_renewable_share_pct is None:
        missing = both("rep.def.location_missing")
        location = (location[0] + missing[0], location[1] + missing[1])
    else:
        location = (location[0] + ".", location[1] + "。")
    return [
        both("rep.def.consumption"),
        both("rep.def.ratio"),
        both("rep.def.certificates", pct=f"{site.green_power.onsite_certificates_retained_pct:g}"),
        location,
        both("rep.def.scope2"),
        (t("rep.def.tenants", "en", interval=table.interval_min, rule=options.allocation_rule),
         t("rep.def.tenants", "zh-CN", interval=table.interval_min, rule=t(f"rule.{options.allocation_rule}", "zh-CN"))),
        both("rep.def.counterfactual", limit=f"{site.grid.export_limit_kw:g}"),
        both("rep.def.basic"),
    ]
