"""Ledgers summed into :class:`~microgrid.reports.model.Accounts` per day, month, year and whole period.

Everything additive is summed per interval group (invalid intervals are NaN and drop out); ratios, caps
and peaks are formed from the sums. The basic (demand or capacity) charge of a month is spread evenly over
all intervals of that calendar month, so any group of days carries its pro-rata share.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from microgrid.accounting.rules import (
    DemandRule,
    green_parts,
    location_share,
    scope2_location_kg,
    scope2_market_kg,
    storage_losses_kwh,
)
from microgrid.reports.model import Accounts, Level
from microgrid.reports.table import PARK
from microgrid.site.models import Tariff, tariff_period_at

PERIODS = ("critical", "peak", "flat", "valley")
PARTIAL_BELOW = 0.99


@dataclass
class Context:
    """Prices, factors and settings the summaries need (built from the site by :mod:`.build`)."""

    tariff: Tariff
    interval_min: int
    timezone: str
    retained_share: float
    ef_location: float
    ef_secondary: float | None
    ef_market: float
    grid_renewable_share: float | None
    declared_demand_kw: float
    capacity_kva: float
    capacity_share: dict[str, float] = field(default_factory=dict)
    """Entity → share of the capacity charge (tenants: their transformer's share of the park's kVA)."""

    @property
    def step_h(self) -> float:
        return self.interval_min / 60


def tou_frame(index: pd.DatetimeIndex, ctx: Context) -> pd.DataFrame:
    """TOU period, import price and calendar-month key per interval (local time)."""
    local = index.tz_convert(ctx.timezone)
    minutes = local.hour * 60 + local.minute
    cache: dict[tuple[int, int], str] = {}
    periods = []
    for month, minute in zip(local.month, minutes, strict=True):
        key = (int(month), int(minute))
        if key not in cache:
            cache[key] = tariff_period_at(ctx.tariff, key[0], key[1])
        periods.append(cache[key])
    prices = ctx.tariff.prices_cny_per_kwh
    return pd.DataFrame({"period": periods, "price": [prices[p] for p in periods],
                         "month": local.strftime("%Y-%m")}, index=index)


def _month_intervals(months: pd.Series, ctx: Context) -> pd.Series:
    """Number of intervals in each interval's calendar month (whole month, not only the report window)."""
    per_day = 24 * 60 / ctx.interval_min
    days = pd.PeriodIndex(months, freq="M").days_in_month
    return pd.Series(np.asarray(days, dtype=float) * per_day, index=months.index)


def basic_charge_per_interval(park: pd.DataFrame, entity: pd.DataFrame, entity_id: str, tou: pd.DataFrame,
                              ctx: Context, column: str) -> pd.Series:
    """The entity's share of each month's basic charge, spread over the month's intervals (CNY)."""
    t = ctx.tariff
    n_month = _month_intervals(tou["month"], ctx)
    out = pd.Series(0.0, index=park.index)
    for _month, idx in tou.groupby("month").groups.items():
        if t.basic_charge == "capacity":
            charge = ctx.capacity_kva * t.capacity_charge_cny_per_kva_month
            share = 1.0 if entity_id == PARK else ctx.capacity_share.get(entity_id, 0.0)
        else:
            imports = park.loc[idx, column]
            if imports.notna().sum() == 0:
                continue
            t_peak = imports.idxmax()
            peak_kw = float(imports[t_peak]) / ctx.step_h
            charge = DemandRule.from_tariff(t, ctx.declared_demand_kw).charge_cny(peak_kw)
            share = 1.0 if entity_id == PARK else _peak_share(park, entity, idx, t_peak, column)
        out.loc[idx] = charge * share / n_month.loc[idx]
    return out


def _peak_share(park: pd.DataFrame, entity: pd.DataFrame, idx, t_peak, column: str) -> float:
    """The entity's share of the park's import in the peak interval (coincident peak); when the entity's
    data is missing there, its share of the month's import."""
    park_at_peak = float(park.at[t_peak, column])
    mine = entity.at[t_peak, column]
    if np.isfinite(mine) and park_at_peak > 0:
        return float(mine) / park_at_peak
    both = entity.loc[idx, column].notna() & park.loc[idx, column].notna()
    total = float(park.loc[idx, column][both].sum())
    return float(entity.loc[idx, column][both].sum()) / total if total > 0 else 0.0


def interval_values(ledger: pd.DataFrame, park: pd.DataFrame, entity_id: str, tou: pd.DataFrame,
                    ctx: Context) -> pd.DataFrame:
    """Additive per-interval values of one entity (NaN where the interval is not valid)."""
    v = ledger.where(ledger["valid"])
    feed_in = ctx.tariff.feed_in_cny_per_kwh
    out = pd.DataFrame({
        "n_expected": 1.0,
        "n_valid": ledger["valid"].astype(float),
        "n_partial": (ledger["valid"] & (ledger["coverage"] < PARTIAL_BELOW)).astype(float),
        "coverage_used": ledger["coverage"].where(ledger["valid"], 0.0).clip(upper=1.0),
    }, index=ledger.index)
    for col in ("consumption_kwh", "load_kwh", "import_kwh", "export_kwh", "pv_kwh", "pv_self_kwh", "pv_export_kwh",
                "pv_curtailed_kwh", "bat_charge_kwh", "bat_discharge_kwh", "green_physical_kwh", "trading_kwh",
                "direct_kwh", "certificates_kwh", "cf_import_kwh", "cf_export_kwh", "cf_consumption_kwh",
                "cf_green_physical_kwh", "cf_pv_curtailed_kwh"):
        out[col] = v[col]
    for p in PERIODS:
        mask = tou["period"] == p
        out[f"import_{p}_kwh"] = v["import_kwh"].where(mask, 0.0).where(ledger["valid"])
        out[f"cost_{p}_cny"] = (v["import_kwh"] * tou["price"]).where(mask, 0.0).where(ledger["valid"])
    out["cost_energy_cny"] = v["import_kwh"] * tou["price"]
    out["export_revenue_cny"] = v["export_kwh"] * feed_in
    out["cf_cost_energy_cny"] = v["cf_import_kwh"] * tou["price"]
    out["cf_export_revenue_cny"] = v["cf_export_kwh"] * feed_in
    out["basic_cny"] = basic_charge_per_interval(park.where(park["valid"]), v, entity_id, tou, ctx, "import_kwh")
    out["cf_basic_cny"] = basic_charge_per_interval(park.where(park["valid"]), v, entity_id, tou, ctx,
                                                    "cf_import_kwh")
    out["peak_kw"] = v["import_kwh"] / ctx.step_h
    return out


def _pct(num: float, den: float) -> float | None:
    return 100.0 * num / den if den > 1e-9 else None  # rounding is for display only (no double rounding)


def summarize(values: pd.DataFrame, keys: pd.Series, *, level: Level, entity: str, ctx: Context,
              stored: pd.DataFrame | None = None, park_losses: dict[str, tuple[float, float]] | None = None,
              estimated: bool = False, month_peaks: dict[str, float] | None = None) -> list[Accounts]:
    """One :class:`Accounts` per group of ``keys`` (a label per interval).

    ``stored`` (park only): ``bat_stored_start_kwh``/``bat_stored_end_kwh`` per interval for storage losses;
    ``park_losses`` (tenants): group → (park losses, park throughput) to share losses by throughput;
    ``month_peaks`` (park): group → month-to-date peak at the group's end, for the month's demand charge.
    """
    sums = values.drop(columns=["peak_kw"]).groupby(keys, sort=True).sum(min_count=1).fillna(0.0)
    peaks = values["peak_kw"].groupby(keys, sort=True).max()
    days = pd.Series(values.index.tz_convert(ctx.timezone).date, index=values.index).groupby(keys, sort=True)
    first_days, last_days = days.min(), days.max()
    park_loss_sums = None if stored is None else _storage_losses(values, stored, keys)
    out = []
    for key, s in sums.iterrows():
        consumption = s["consumption_kwh"]
        green_phys = s["green_physical_kwh"]
        parts = green_parts(consumption, green_phys, retained_share=ctx.retained_share, trading_kwh=s["trading_kwh"],
                            certificates_kwh=s["certificates_kwh"], direct_kwh=s["direct_kwh"])
        onsite_phys = parts.onsite_physical_kwh
        charge, discharge = s["bat_charge_kwh"], s["bat_discharge_kwh"]
        if park_losses is not None:
            p_loss, p_throughput = park_losses.get(key, (0.0, 0.0))
            losses = p_loss * (charge + discharge) / p_throughput if p_throughput > 1e-9 else 0.0
        elif park_loss_sums is not None:
            # A loss is never negative; a few kWh below zero are the SoC registers' resolution.
            losses = max(float(park_loss_sums.get(key, 0.0)), 0.0)
        else:
            losses = storage_losses_kwh(charge, discharge)
        imports = s["import_kwh"]
        cost_total = s["cost_energy_cny"] + s["basic_cny"] - s["export_revenue_cny"]
        cf_cost = s["cf_cost_energy_cny"] + s["cf_basic_cny"] - s["cf_export_revenue_cny"]
        cf_green = green_parts(s["cf_consumption_kwh"], s["cf_green_physical_kwh"], retained_share=ctx.retained_share,
                               trading_kwh=s["trading_kwh"], certificates_kwh=s["certificates_kwh"],
                               direct_kwh=s["direct_kwh"]).total_kwh
        location = location_share(consumption, onsite_phys, ctx.grid_renewable_share)
        peak = peaks.get(key)
        mtd_peak = None if month_peaks is None else month_peaks.get(key)
        demand = DemandRule.from_tariff(ctx.tariff, ctx.declared_demand_kw)
        out.append(Accounts(
            entity=entity, level=level, period=str(key), first_day=first_days[key], last_day=last_days[key],
            intervals_expected=int(s["n_expected"]), intervals_valid=int(s["n_valid"]),
            intervals_partial=int(s["n_partial"]),
            coverage_pct=round(100.0 * s["coverage_used"] / s["n_expected"], 3) if s["n_expected"] else 0.0,
            estimated=estimated,
            consumption_kwh=consumption, load_kwh=s["load_kwh"], grid_import_kwh=imports,
            grid_export_kwh=s["export_kwh"],
            import_by_period_kwh={p: float(s[f"import_{p}_kwh"]) for p in PERIODS},
            peak_import_kw=None if peak is None or not np.isfinite(peak) else float(peak),
            pv_generated_kwh=s["pv_kwh"], pv_self_consumed_kwh=s["pv_self_kwh"], pv_exported_kwh=s["pv_export_kwh"],
            pv_curtailed_kwh=s["pv_curtailed_kwh"], storage_charge_kwh=charge, storage_discharge_kwh=discharge,
            storage_losses_kwh=losses,
            green_onsite_physical_kwh=green_phys, green_onsite_kwh=parts.onsite_kwh,
            onsite_certificates_sold_kwh=parts.certificates_sold_kwh, green_direct_kwh=s["direct_kwh"],
            green_trading_kwh=s["trading_kwh"], green_certificates_kwh=s["certificates_kwh"],
            green_total_kwh=parts.total_kwh, green_unused_kwh=parts.unused_kwh,
            green_ratio_pct=_pct(parts.total_kwh, consumption), onsite_physical_share_pct=_pct(onsite_phys, consumption),
            location_renewable_share_pct=None if location is None else round(100.0 * location, 3),
            co2_location_kg=scope2_location_kg(imports, ctx.ef_location),
            co2_location_secondary_kg=None if ctx.ef_secondary is None else scope2_location_kg(imports, ctx.ef_secondary),
            co2_market_kg=scope2_market_kg(imports, parts, ctx.ef_market),
            cost_energy_by_period_cny={p: float(s[f"cost_{p}_cny"]) for p in PERIODS},
            cost_energy_cny=s["cost_energy_cny"], cost_export_revenue_cny=s["export_revenue_cny"],
            cost_basic_charge_cny=s["basic_cny"], cost_total_cny=cost_total,
            month_peak_kw=mtd_peak,
            demand_charge_month_to_date_cny=None if mtd_peak is None else demand.charge_cny(mtd_peak),
            counterfactual_import_kwh=s["cf_import_kwh"], counterfactual_export_kwh=s["cf_export_kwh"],
            counterfactual_pv_curtailed_kwh=s["cf_pv_curtailed_kwh"], counterfactual_cost_cny=cf_cost,
            counterfactual_green_ratio_pct=_pct(cf_green, s["cf_consumption_kwh"]),
            savings_cny=cf_cost - cost_total,
        ))
    return out


def _storage_losses(values: pd.DataFrame, stored: pd.DataFrame, keys: pd.Series) -> dict[str, float]:
    """Park storage losses per group (a positive loss, :func:`~microgrid.accounting.rules.storage_losses_kwh`).

    The stored-energy change must span exactly the intervals whose flows are summed: interval by interval
    where each valid interval knows its start and end energy (gaps then drop out on both sides), else from the
    first valid interval's start to the last valid interval's end.
    """
    valid = values["n_valid"] > 0
    start, end = stored["bat_stored_start_kwh"], stored["bat_stored_end_kwh"]
    out: dict[str, float] = {}
    for key, idx in keys.groupby(keys, sort=True).groups.items():
        v = valid.loc[idx]
        ch, dis = values.loc[idx, "bat_charge_kwh"][v], values.loc[idx, "bat_discharge_kwh"][v]
        s_, e_ = start.loc[idx][v], end.loc[idx][v]
        if not v.any():
            out[str(key)] = 0.0
        elif np.isfinite(s_).all() and np.isfinite(e_).all():
            out[str(key)] = float(np.sum(storage_losses_kwh(ch.to_numpy(), dis.to_numpy(), s_.to_numpy(),
                                                            e_.to_numpy())))
        else:
            first, last = s_.iloc[0], e_.iloc[-1]
            out[str(key)] = float(storage_losses_kwh(ch.sum(), dis.sum(), first, last))
    return out


def month_to_date_peaks(park_import_kwh: pd.Series, keys: pd.Series, ctx: Context,
                        peak_before_kw: dict[str, float] | None = None) -> dict[str, float]:
    """Month-to-date peak (kW) at the end of each group: the highest interval-average import since the start
    of the calendar month of the group's last interval, seeded with ``peak_before_kw`` (month ``YYYY-MM`` →
    the peak metered before the table starts)."""
    local = park_import_kwh.index.tz_convert(ctx.timezone)
    months = pd.Series(local.strftime("%Y-%m"), index=park_import_kwh.index)
    kw = (park_import_kwh / ctx.step_h).fillna(0.0)
    running = kw.groupby(months).cummax()
    before = months.map(peak_before_kw or {}).fillna(0.0).astype(float)
    running = np.maximum(running, before)
    last = running.groupby(keys.to_numpy(), sort=True).last()
    return {str(k): float(v) for k, v in last.items()}


def group_keys(index: pd.DatetimeIndex, level: Level, timezone: str, label: str = "") -> pd.Series:
    """Group label per interval: local date, ``YYYY-MM``, ``YYYY`` or one label for everything."""
    local = index.tz_convert(timezone)
    if level == "day":
        keys = local.strftime("%Y-%m-%d")
    elif level == "month":
        keys = local.strftime("%Y-%m")
    elif level == "year":
        keys = local.strftime("%Y")
    else:
        keys = pd.Index([label] * len(index))
    return pd.Series(np.asarray(keys), index=index)
