"""Site → optimizer inputs: the only place that knows both the site file and the optimizer's types.

:func:`build_dispatch_inputs` turns a validated :class:`~microgrid.site.Site`, a horizon (a local day or
a rolling start + length) and the forecasts into :class:`optimizer.DispatchInputs`. Assumptions made
here (also in docs/optimizer.md):

- Tenant base loads are must-serve; their asset id in the optimizer is the tenant id.
- Transformer limits: the net power of everything on a tenant transformer's LV bus (base load, PV,
  batteries, heat pumps, flexible loads, chargers) stays within ``sn_kva · max_loading_pct/100`` taken as
  kW at power factor 1 (reactive power is neglected here and checked by the AC power flow).
- Import cap = ``grid.import_limit_kw`` (default the declared demand); demand above 105 % of the
  declared demand costs the excess factor (2×) on top of the demand charge.
- Emission factor: the site's default (location-based, Fujian 2023) unless another factor id is given.
- Green power: the site's certificate share counts on-site PV; green trading, direct supply and (where
  accepted) retired certificates are spread evenly over the month/year and added per horizon.
- Heat-pump tanks hold ``volume · 1.163 kWh/m³K · (T − T_min)``; the COP uses the site's supply temperature.
- Deferrable loads: one window per horizon, the one in force at the horizon start or the next one; a
  window already under way is assumed to have consumed what the remaining time at full power could not
  (the lazy plan a previous horizon would have made) unless the measured state says otherwise.
- EV depots: see :mod:`microgrid.planning.ev` for the overnight window.
- Peak reserve (intraday only, ``PlanOptions.peak_reserve_margin_pct``): storage energy for the demand
  peaks left until the local midnight after the horizon start.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

from microgrid.accounting.rules import GreenInstruments
from microgrid.errors import UserError
from microgrid.planning.ev import ev_depot
from microgrid.planning.forecasts import site_forecast
from microgrid.planning.tariff import demand_charge_cny_per_kw_month, export_price, tou_prices
from microgrid.profiles import day_index
from microgrid.site.models import WATER_KWH_PER_M3_K, Site, energy_still_owed_kwh, minutes_of
from optimizer import (
    Battery,
    Carbon,
    CurtailableLoad,
    DeferrableLoad,
    DispatchInputs,
    FixedLoad,
    GreenTarget,
    GridConnection,
    HeatPump,
    PeakReserve,
    PVPlant,
    ShiftableLoad,
    Tariff,
    TransformerLimit,
)


@dataclass
class PlanOptions:
    """Choices of the caller that are not in the site file."""

    month_peak_kw: float = 0.0
    """Month-to-date peak import, kW (0 = first day of the billing month or unknown)."""
    demand_charge_share: float = 1.0
    """Share of the monthly demand charge weighed in the horizon (see :class:`optimizer.Tariff`)."""
    min_green_ratio: float | None = None
    """Required green-power ratio over the horizon (0–1), or ``None`` for none."""
    carbon_price_cny_per_t: float = 0.0
    emission_factor_id: str | None = None
    """Site emission-factor id (default: ``emissions.default``)."""
    power_factor: float = 1.0
    """Power factor assumed for transformer limits."""
    peak_reserve_margin_pct: float | None = None
    """Keep storage energy for the demand peaks left in the local day of the horizon start, sized on the
    must-serve load raised by this margin (:class:`optimizer.PeakReserve`); ``None`` = no reserve (day-ahead).
    The intraday planners set it (:data:`microgrid.planning.intraday.PEAK_RESERVE_MARGIN_PCT`)."""


def horizon_for_day(site: Site, day: date, step_min: int | None = None) -> pd.DatetimeIndex:
    """Intervals of the local calendar day at the planning step (default: the site's resolution)."""
    return day_index(site, day, step_min or site.site.resolution_min)


def rolling_horizon(site: Site, start: pd.Timestamp, hours: float = 24.0, step_min: int | None = None) -> pd.DatetimeIndex:
    """``hours`` of intervals from ``start`` (tz-aware; must lie on the step grid)."""
    step = step_min or site.site.resolution_min
    start = pd.Timestamp(start)
    if start.tzinfo is None:
        raise UserError("horizon start must be timezone-aware")
    n = int(round(hours * 60 / step))
    return pd.date_range(start.tz_convert(site.timezone), periods=n, freq=f"{step}min")


def _deferrable_window(index: pd.DatetimeIndex, start_hhmm: str, end_hhmm: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The window occurrence in force at the horizon start, or the next one."""
    day = index[0].normalize() - pd.Timedelta(days=1)
    for _ in range(4):
        start = day + timedelta(minutes=minutes_of(start_hhmm))
        end = day + timedelta(minutes=minutes_of(end_hhmm))
        if end <= start:
            end += timedelta(days=1)
        if end > index[0]:
            return start, end
        day = (day + pd.Timedelta(days=1, hours=2)).normalize()
    raise AssertionError("unreachable: a daily window always recurs")


def _transformers(site: Site, power_factor: float) -> list[TransformerLimit]:
    out = []
    by_lv = {t.lv_bus: t for t in site.network.transformers}
    a = site.assets
    for lv_bus, tr in by_lv.items():
        ids = [t.id for t in site.tenants if t.bus == lv_bus]
        for group in (a.pv, a.batteries, a.heat_pumps, a.flexible_loads, a.ev_depots):
            ids += [x.id for x in group if x.bus == lv_bus]
        if ids:
            out.append(TransformerLimit(id=tr.id, s_kva=tr.sn_kva * tr.max_loading_pct / 100, asset_ids=tuple(ids),
                                        power_factor=power_factor))
    return out


def _green(site: Site, index: pd.DatetimeIndex, step_h: float, min_ratio: float | None) -> GreenTarget:
    gp = site.green_power
    bought = GreenInstruments.from_site(gp).total_kwh(index, step_h * 60)
    return GreenTarget(min_ratio=min_ratio, onsite_certificate_share=gp.onsite_certificates_retained_pct / 100,
                       green_purchased_kwh=bought)


def build_dispatch_inputs(site: Site, index: pd.DatetimeIndex, *, options: PlanOptions | None = None,
                          forecast: pd.DataFrame | None = None, forecast_csv: str | None = None) -> DispatchInputs:
    """Optimizer inputs for ``site`` over the horizon ``index`` (see the module docstring for assumptions).

    ``forecast`` (a frame from :func:`microgrid.planning.forecasts.site_forecast`) is built from the
    profiles and ``forecast_csv`` when not given.
    """
    opts = options or PlanOptions()
    fc = forecast if forecast is not None else site_forecast(site, index, forecast_csv)
    n = len(index)
    step_h = (index[1] - index[0]).total_seconds() / 3600
    prices, periods = tou_prices(site, index)
    if "price_import_cny_per_kwh" in fc.columns:
        prices = fc["price_import_cny_per_kwh"].to_numpy()
    exp_price = fc["price_export_cny_per_kwh"].to_numpy() if "price_export_cny_per_kwh" in fc.columns else export_price(site, index)
    grid = site.grid
    tariff = Tariff(import_price_cny_per_kwh=prices, export_price_cny_per_kwh=exp_price, period=periods,
                    demand_charge_cny_per_kw_month=demand_charge_cny_per_kw_month(site),
                    demand_charge_share=opts.demand_charge_share, month_peak_kw=opts.month_peak_kw,
                    declared_demand_kw=grid.declared_demand_kw,
                    demand_excess_threshold_pct=site.tariff.demand_excess_threshold_pct,
                    demand_excess_factor=site.tariff.demand_excess_factor)
    try:
        ef = site.emission_factor(opts.emission_factor_id)
    except StopIteration:
        known = [f.id for f in site.emissions.factors]
        raise UserError.of("uerr.emission_factor_unknown", id=opts.emission_factor_id, known=str(known)) from None
    carbon = Carbon(emission_factor_kg_per_kwh=ef.kg_co2_per_kwh,
                    emission_factor_label=f"{ef.id}: {ef.region} {ef.year}, {ef.scope}-based ({ef.document})",
                    carbon_price_cny_per_t=opts.carbon_price_cny_per_t)
    a = site.assets
    pv = [PVPlant(id=p.id, p_avail_kw=fc[f"pv_{p.id}_kw"].to_numpy(), curtailable=p.curtailable) for p in a.pv]
    batteries = [Battery(id=b.id, e_capacity_kwh=b.e_kwh, p_charge_max_kw=b.p_charge_max_kw,
                         p_discharge_max_kw=b.p_discharge_max_kw, eta_charge=b.eta_charge, eta_discharge=b.eta_discharge,
                         soc_min_pct=b.soc_min_pct, soc_max_pct=b.soc_max_pct, soc_initial_pct=b.soc_initial_pct,
                         throughput_cost_cny_per_kwh=b.throughput_cost_cny_per_kwh) for b in a.batteries]
    heat_pumps = []
    for h in a.heat_pumps:
        t_init = h.tank_temp_initial_c if h.tank_temp_initial_c is not None else (h.tank_temp_min_c + h.tank_temp_max_c) / 2
        heat_pumps.append(HeatPump(
            id=h.id, p_el_max_kw=h.p_el_max_kw, p_el_min_kw=h.p_el_min_kw, cop=fc[f"cop_{h.id}"].to_numpy(),
            heat_demand_kw_th=fc[h.heat_demand_profile].to_numpy(), tank_capacity_kwh=h.tank_capacity_kwh_th,
            tank_initial_kwh=h.tank_volume_m3 * WATER_KWH_PER_M3_K * (t_init - h.tank_temp_min_c),
            tank_loss_pct_per_h=h.tank_loss_pct_per_h))
    loads = [FixedLoad(id=t.id, p_kw=fc[f"load_{t.id}_kw"].to_numpy()) for t in site.tenants]
    deferrable, shiftable, curtailable = [], [], []
    for f in a.flexible_loads:
        if f.kind == "deferrable":
            start, end = _deferrable_window(index, f.window_start, f.window_end)
            delivered = 0.0
            if start < index[0]:  # under way: pro rata to the window elapsed (the simulator agrees)
                hours_left = (end - index[0]).total_seconds() / 3600
                window_h = (end - start).total_seconds() / 3600
                delivered = f.energy_kwh - energy_still_owed_kwh(f.energy_kwh, f.p_max_kw, hours_left,
                                                                 window_h=window_h)
            deferrable.append(DeferrableLoad(id=f.id, energy_kwh=f.energy_kwh, window_start=start, window_end=end,
                                             p_max_kw=f.p_max_kw, p_min_kw=f.p_min_kw, delivered_kwh=delivered))
        elif f.kind == "shiftable":
            base = np.minimum(fc[f.baseline_profile].to_numpy(), f.p_max_kw)
            shiftable.append(ShiftableLoad(id=f.id, baseline_kw=base, max_shift_h=f.max_shift_h, p_max_kw=f.p_max_kw,
                                           p_min_kw=f.p_min_kw))
        else:
            curtailable.append(CurtailableLoad(id=f.id, baseline_kw=fc[f.baseline_profile].to_numpy(),
                                               max_curtail_pct=f.max_curtail_pct, penalty_cny_per_kwh=f.penalty_cny_per_kwh,
                                               p_max_kw=f.p_max_kw))
    depots = [ev_depot(x, index, step_h) for x in a.ev_depots]
    reserve = None
    if opts.peak_reserve_margin_pct is not None:
        until = (index[0].tz_convert(site.timezone).normalize() + pd.Timedelta(days=1)).normalize()
        reserve = PeakReserve(until=until, load_margin_pct=opts.peak_reserve_margin_pct)
    inputs = DispatchInputs(
        index=index, tariff=tariff,
        grid=GridConnection(import_limit_kw=grid.import_cap_kw, export_limit_kw=grid.export_limit_kw),
        pv=pv, batteries=batteries, heat_pumps=heat_pumps, loads=loads, deferrable=deferrable, shiftable=shiftable,
        curtailable=curtailable, ev_depots=depots, transformers=_transformers(site, opts.power_factor),
        carbon=carbon, green=_green(site, index, step_h, opts.min_green_ratio), peak_reserve=reserve,
        name=f"{site.id} dispatch")
    assert n == inputs.n_steps
    return inputs
